"""A local Pilot Status platform: the documented REST API plus a signed, retrying webhook
dispatcher driven by a scenario (demo mode, tests, benchmarks).

Modules: `state` (tenant, keys, webhooks, logs), `rest` (errors, auth, scope),
`webhooks_api` / `numbers_api` / `messages_api` (the `/v1` routes), `api` (the app),
`dispatcher` (deliveries), `scenario` (the traffic: `lifecycle` of a message,
`processes` of a number, `content` settings and texts), `server` (`Sandbox`, the whole),
`console` (`pilot-desktop sandbox`).
"""
