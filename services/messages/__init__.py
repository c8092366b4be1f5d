"""Messages to citizens (短信/推送): receipt, reply, resolution with the feedback invitation, reopening.

Between webhooks (which it uses for `citizen.notify`) and lifecycle (which calls `queue.queue_messages`
from the one place a request's changes are written). `events` decides which change tells the citizen
what (pure), `templates` renders the texts per medium and channel, `queue` writes the messages (the
outbox) in the change's transaction, `sender` sends them with retries and a per-phone limit (the only
code that decrypts a phone), `gateway` is the SMS gateway adapter (HTTP, signed, provider codes mapped),
`replies` reads SMS replies into feedback, `service` the admin views and the invitation link.
See docs/messages.md.
"""
