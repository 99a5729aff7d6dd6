"""Tunnel providers: the argv a mode runs, the public URL read from a program's output, and
secrets kept out of the output the app shows."""

from __future__ import annotations

import asyncio

import pytest

from pilot_desktop.tunnel.providers import (
    ALLOW_LOCAL_ENV,
    PRESETS,
    StatusTeller,
    TunnelError,
    TunnelStatus,
    command_line,
    find_public_url,
    mask_secrets,
    needs_operator,
    not_installed_sentence,
    secret_values,
    shown_command,
)

LOCAL = "http://127.0.0.1:8787"

# What cloudflared 2024.x prints on stderr for `cloudflared tunnel --url http://127.0.0.1:8787`.
CLOUDFLARED_LINES = [
    "2024-05-10T09:12:01Z INF Thank you for trying Cloudflare Tunnel. Doing so, without a Cloudflare "
    "account, is a quick way to experiment and try it out. However, be aware that these account-less "
    "Tunnels have no uptime guarantee, are subject to the Cloudflare Online Services Terms of Use "
    "(https://www.cloudflare.com/website-terms/), and Cloudflare reserves the right to investigate your "
    "use of Tunnels for violations of such terms. If you intend to use Tunnels in production you should "
    "use a pre-created named tunnel by following: "
    "https://developers.cloudflare.com/cloudflare-one/connections/connect-networks",
    "2024-05-10T09:12:01Z INF Requesting new quick Tunnel on trycloudflare.com...",
    "2024-05-10T09:12:03Z INF +--------------------------------------------------------------------+",
    "2024-05-10T09:12:03Z INF |  Your quick Tunnel has been created! Visit it at (it may take some "
    "time to be reachable):  |",
    "2024-05-10T09:12:03Z INF |  https://tender-pumps-fiction-lamb.trycloudflare.com                 |",
    "2024-05-10T09:12:03Z INF +--------------------------------------------------------------------+",
    "2024-05-10T09:12:03Z INF Settings: map[ha-connections:1 no-autoupdate:true protocol:quic "
    "url:http://127.0.0.1:8787]",
    "2024-05-10T09:12:03Z INF Starting metrics server on 127.0.0.1:37851/metrics",
    "2024-05-10T09:12:04Z INF Registered tunnel connection connIndex=0 "
    "connection=5b3c1a2e-7f0d-4c1e-9a57-3f2b1c0d9e8a event=0 ip=198.41.192.7 location=ams01 protocol=quic",
]
CLOUDFLARED_FAILED = (
    '2024-05-10T09:12:31Z ERR failed to request quick Tunnel: Post "https://api.trycloudflare.com/tunnel": '
    "dial tcp: lookup api.trycloudflare.com on 127.0.0.53:53: server misbehaving"
)
# What the ngrok agent v3 prints on stdout with `--log stdout --log-format logfmt`.
NGROK_LINES = [
    't=2024-05-10T09:20:11+0000 lvl=info msg="no configuration paths supplied"',
    't=2024-05-10T09:20:11+0000 lvl=info msg="open config file" '
    "path=/home/op/.config/ngrok/ngrok.yml err=nil",
    't=2024-05-10T09:20:11+0000 lvl=info msg="starting web service" obj=web '
    "addr=127.0.0.1:4040 allow_hosts=[]",
    't=2024-05-10T09:20:12+0000 lvl=info msg="client session established" obj=tunnels.session',
    't=2024-05-10T09:20:12+0000 lvl=info msg="tunnel session started" obj=tunnels.session',
    't=2024-05-10T09:20:12+0000 lvl=info msg="started tunnel" obj=tunnels name=command_line '
    "addr=http://localhost:8787 url=https://3f2a-203-0-113-7.ngrok-free.app",
    't=2024-05-10T09:20:30+0000 lvl=info msg="join connections" obj=join id=1a2b3c4d5e6f '
    "l=127.0.0.1:8787 r=203.0.113.9:50123",
]


def urls(lines: list[str], mode: str, local: str = LOCAL) -> list[str]:
    return [u for line in lines if (u := find_public_url(line, mode, local)) is not None]


# -- the command line -----------------------------------------------------------------------


def test_presets_run_the_programs_with_the_receiver_filled_in() -> None:
    assert command_line("cloudflared", "", port=8787, local_url=LOCAL) == [
        "cloudflared",
        "tunnel",
        "--no-autoupdate",
        "--url",
        LOCAL,
    ]
    assert command_line("ngrok", "ignored for a preset", port=8787, local_url=LOCAL) == [
        "ngrok",
        "http",
        "8787",
        "--log",
        "stdout",
        "--log-format",
        "logfmt",
    ]
    assert set(PRESETS) == {"cloudflared", "ngrok"}


def test_a_custom_template_is_split_like_a_shell_then_filled_per_argument() -> None:
    argv = command_line(
        "command",
        "my-tunnel --url={local_url} --port {port} --name 'my app' \"{local_url}/x\" {{literal}}",
        port=9000,
        local_url="http://127.0.0.1:9000",
    )
    assert argv == [
        "my-tunnel",
        "--url=http://127.0.0.1:9000",
        "--port",
        "9000",
        "--name",
        "my app",
        "http://127.0.0.1:9000/x",
        "{literal}",
    ]


@pytest.mark.parametrize(
    "local_url", ["http://127.0.0.1:8787 --evil yes", "x; rm -rf ~", "$(reboot)", "'\"'"]
)
def test_a_value_with_spaces_quotes_or_shell_syntax_stays_one_argument(local_url: str) -> None:
    argv = command_line("command", "tunnel --to {local_url}", port=1, local_url=local_url)
    assert argv == ["tunnel", "--to", local_url]


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("tunnel --host {host}", "{host}"),
        ("tunnel {PORT}", "{PORT}"),
        ("tunnel {port:05}", "{port:05}"),
        ("tunnel {local_url!r}", "{local_url!r}"),
        ("tunnel {}", "{}"),
    ],
)
def test_an_unknown_placeholder_is_named(template: str, named: str) -> None:
    with pytest.raises(TunnelError) as err:
        command_line("command", template, port=1, local_url=LOCAL)
    assert named in str(err.value)
    assert "{port}" in str(err.value) and "{local_url}" in str(err.value)


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("tunnel --name 'unclosed", "quotes"),
        ('tunnel "half', "quotes"),
        ("tunnel --url {local_url", "brace"),
        ("tunnel }", "brace"),
        ("", "No tunnel command is set"),
        ("   ", "No tunnel command is set"),
    ],
)
def test_a_template_that_cannot_be_read_is_refused_with_why(template: str, says: str) -> None:
    with pytest.raises(TunnelError, match=says):
        command_line("command", template, port=1, local_url=LOCAL)


@pytest.mark.parametrize("mode", ["manual", "ngrok-sdk", "bogus"])
def test_a_mode_without_a_program_is_refused(mode: str) -> None:
    with pytest.raises(TunnelError, match=mode):
        command_line(mode, "anything", port=1, local_url=LOCAL)


def test_not_installed_names_the_program_and_where_to_get_it() -> None:
    assert not_installed_sentence("cloudflared", "cloudflared") == (
        "cloudflared is not installed (not found on PATH). Get it from "
        "https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/; "
        "it is tried again every minute."
    )
    assert "https://ngrok.com/download" in not_installed_sentence("ngrok", "ngrok")
    assert not_installed_sentence("command", "my-tunnel").startswith("my-tunnel is not installed")


# -- the public URL ---------------------------------------------------------------------------


def test_cloudflared_quick_tunnel_url_is_read_from_its_banner_only() -> None:
    assert urls(CLOUDFLARED_LINES, "cloudflared") == ["https://tender-pumps-fiction-lamb.trycloudflare.com"]
    # Its API address in an error line is not a tunnel; an http:// name is not what it prints.
    assert find_public_url(CLOUDFLARED_FAILED, "cloudflared", LOCAL) is None
    assert find_public_url("INF |  http://a-b.trycloudflare.com  |", "cloudflared", LOCAL) is None
    assert (
        find_public_url("INF |  https://a-b.trycloudflare.com.evil.example  |", "cloudflared", LOCAL) is None
    )


def test_ngrok_url_is_read_from_the_started_tunnel_line() -> None:
    assert urls(NGROK_LINES, "ngrok") == ["https://3f2a-203-0-113-7.ngrok-free.app"]
    for domain in ("ngrok-free.app", "ngrok-free.dev", "ngrok.io", "ngrok.app", "example.com"):
        line = f'lvl=info msg="started tunnel" obj=tunnels name=command_line url=https://ab12.{domain}'
        assert find_public_url(line, "ngrok", LOCAL) == f"https://ab12.{domain}"
    # ngrok v2 also started an http:// tunnel: the https one is what the platform needs.
    v2 = 'lvl=info msg="started tunnel" obj=tunnels name="command_line (http)" url=http://ab12.ngrok.io'
    assert find_public_url(v2, "ngrok", LOCAL) is None


def test_custom_mode_takes_the_first_bare_address_that_is_not_the_receiver() -> None:
    # The real programs' output through the custom mode: the same URL as the preset finds.
    assert urls(CLOUDFLARED_LINES, "command") == ["https://tender-pumps-fiction-lamb.trycloudflare.com"]
    assert find_public_url(CLOUDFLARED_FAILED, "command", LOCAL) is None  # a path: an API, not a tunnel
    # The receiver itself (by any loopback name) is what is forwarded to, not the public URL.
    for own in (
        "http://127.0.0.1:8787",
        "http://localhost:8787/",
        "http://[::1]:8787",
        "http://0.0.0.0:8787",
    ):
        assert find_public_url(f"forwarding to {own}", "command", LOCAL) is None
    # The test stand-in's loopback address on another port is a tunnel.
    line = "2026-01-01T00:00:00Z INF |  http://127.0.0.1:40123    |"
    assert find_public_url(line, "command", LOCAL) == "http://127.0.0.1:40123"
    assert find_public_url("your url is: https://Quiet-Cat.loca.lt/.", "command", LOCAL) == (
        "https://quiet-cat.loca.lt"
    )
    assert find_public_url(
        "docs at https://example.com/docs then https://t.example.net", "command", LOCAL
    ) == ("https://t.example.net")
    assert find_public_url("nothing here", "command", LOCAL) is None


def test_ngrok_saying_it_has_no_valid_authtoken_needs_the_operator() -> None:
    for line in (
        "ERROR:  authentication failed: Usage of ngrok requires a verified account and authtoken.",
        "ERROR:  ERR_NGROK_4018",
        't=... lvl=eror msg="session closing" err="authentication failed: ... ERR_NGROK_107"',
    ):
        sentence = needs_operator(line, "ngrok")
        assert sentence is not None and "ngrok config add-authtoken" in sentence
    assert all(needs_operator(line, "ngrok") is None for line in NGROK_LINES)
    assert all(
        needs_operator(line, "cloudflared") is None for line in [*CLOUDFLARED_LINES, CLOUDFLARED_FAILED]
    )
    assert needs_operator("ERR_NGROK_4018", "command") is None  # a custom program: no guessing


# -- secrets ----------------------------------------------------------------------------------

NGROK_TOKEN = "2abcDEFghiJKLmnoPQRstuVWXyz_1a2B3c4D5e6F7g8H9i0Jk"


@pytest.mark.parametrize(
    "line",
    [
        f"ngrok http 8787 --authtoken {NGROK_TOKEN}",
        f"ngrok http 8787 --authtoken={NGROK_TOKEN}",
        f't=... lvl=eror msg="failed" err="authentication failed: Your authtoken: {NGROK_TOKEN}"',
        f"NGROK_AUTHTOKEN={NGROK_TOKEN}",
        f"authtoken: {NGROK_TOKEN}",
        f'{{"authtoken": "{NGROK_TOKEN}"}}',
        f"a token in the open: {NGROK_TOKEN} (shaped like ngrok's)",
    ],
)
def test_ngrok_authtokens_are_masked(line: str) -> None:
    shown = mask_secrets(line)
    assert NGROK_TOKEN not in shown
    assert "[hidden]" in shown


def test_other_secrets_are_masked_and_ordinary_lines_are_not() -> None:
    cf = "eyJhIjoiNzk4ZGQ0YjM4ZGVkNzQ2NiIsInQiOiIxMjMiLCJzIjoiYWJjIn0="
    assert cf not in mask_secrets(f"cloudflared tunnel run --token {cf}")
    assert cf not in mask_secrets(f"TUNNEL_TOKEN={cf}")
    assert "s3cr3t-pass" not in mask_secrets("tunnel --password s3cr3t-pass --port 1")
    assert "abcdef123456" not in mask_secrets("Authorization: Bearer abcdef123456")
    for line in [*CLOUDFLARED_LINES, *NGROK_LINES]:
        assert mask_secrets(line) == line


def test_values_of_secret_flags_in_the_command_are_masked_anywhere_in_the_output() -> None:
    argv = ["my-tunnel", "--api-key", "k-9f8e7d", "--secret=hush-1234", "--name", "visible"]
    values = secret_values(argv)
    assert set(values) == {"k-9f8e7d", "hush-1234"}
    shown = mask_secrets("connected as k-9f8e7d with hush-1234 named visible", values)
    assert shown == "connected as [hidden] with [hidden] named visible"
    assert mask_secrets("nothing to hide", ["", "a"]) == "nothing to hide"  # no value: nothing masked


# -- telling the status -----------------------------------------------------------------------


async def test_output_alone_is_told_at_most_once_a_second_and_state_changes_at_once() -> None:
    told: list[TunnelStatus] = []
    flushed = asyncio.Event()

    def listener(status: TunnelStatus) -> None:
        told.append(status)
        if status.output[-1:] == ("line 449",):
            flushed.set()

    teller = StatusTeller(TunnelStatus("command", "starting", None), listener, output_every_s=0.3)
    teller.set(state="starting", pid=42)
    for i in range(150):
        teller.line(f"line {i}")
    assert len(told) == 1  # the burst waits for the next window
    teller.set(state="up", public_url="https://t.example.net")  # a change is told at once
    assert told[-1].state == "up" and told[-1].output[-1] == "line 149"
    for i in range(150, 450):
        teller.line(f"line {i}")
    async with asyncio.timeout(5):
        await flushed.wait()
    assert len(told) == 3  # starting, up, one flush for the 300 lines after it
    assert told[-1].output == tuple(f"line {i}" for i in range(250, 450))  # the last 200, oldest first
    teller.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:4040",  # ngrok's web interface
        "http://0.0.0.0:2000",
        "http://[::]:2000",
        "http://[::1]:9000",
        "http://localhost:3000",
        "http://app.localhost",
        "http://169.254.10.1:80",
        "http://[fe80::1]:80",
        "http://10.1.2.3:8080",
        "http://192.168.1.20",
        "https://172.16.0.9",
        "http://[fd00::7]:80",
    ],
)
def test_custom_mode_refuses_an_address_the_platform_cannot_reach(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_LOCAL_ENV, raising=False)
    assert find_public_url(f"Web Interface {url}", "command", LOCAL) is None
    # The public URL printed after it on the same line is still found.
    assert find_public_url(f"admin {url} public https://t.example.net", "command", LOCAL) == (
        "https://t.example.net"
    )
    assert find_public_url("public at https://34.117.59.81:8443", "command", LOCAL) == (
        "https://34.117.59.81:8443"
    )
    # The tests' stand-in tunnel prints a loopback URL: allowed only with the knob set.
    monkeypatch.setenv(ALLOW_LOCAL_ENV, "1")
    assert find_public_url("INF |  http://127.0.0.1:40123  |", "command", LOCAL) == "http://127.0.0.1:40123"
    assert find_public_url("forwarding to http://127.0.0.1:8787", "command", LOCAL) is None  # the receiver


@pytest.mark.parametrize(
    ("template", "secret"),
    [
        ("my-tunnel --api-key k-9f8e7d --to {local_url}", "k-9f8e7d"),
        ("my-tunnel --password='hunter 2222' --to {local_url}", "hunter 2222"),
        (f"ngrok http {{port}} --authtoken {NGROK_TOKEN}", NGROK_TOKEN),
        ("ssh -R 80:{local_url} --token=zq9-private-77 'unclosed", "zq9-private-77"),
    ],
)
def test_a_template_is_displayed_with_its_secrets_masked(template: str, secret: str) -> None:
    shown = shown_command(template)
    assert secret not in shown and "[hidden]" in shown
    assert "{local_url}" in shown or "{port}" in shown  # the rest stays readable


def test_an_error_naming_a_word_of_the_template_masks_its_secret() -> None:
    with pytest.raises(TunnelError) as err:
        command_line("command", "my-tunnel {local_url} --token=zq9-private{", port=1, local_url=LOCAL)
    assert "zq9-private" not in str(err.value) and "--token=[hidden]" in str(err.value)
