"""Leaving the demo without a restart: the real core on the same profile.

In the demo the core runs the sandbox on its own folder, token and accounts; an account the
operator adds goes to the profile. Leaving the demo stops the demo core (the caller does,
with its window) and starts this one: the profile's receiver, accounts and history, the
same process and preferences. The profile is marked so the next launch starts real too.
"""

from __future__ import annotations

from dataclasses import replace

from pilot_desktop.services.core import AppCore


def real_core(demo: AppCore) -> AppCore:
    """The core that runs after `demo` (stopped by then): not a demo, same profile, same
    secret store and options (given signing secrets, overrides)."""
    demo.profile.mark_real_receiver()
    return AppCore(demo.paths, demo.profile, replace(demo.options, demo=False), secrets=demo.profile_secrets)
