"""A request's lifecycle: the one place that changes its state and writes its audit trail.

Below intake, routing and handling (which decide *what* happens) and above sla (calendar and policy
arithmetic), org and webhooks: `changes` (the state change primitive, the routing job's name and id),
`events` (the hash-chained trail), `sweep` (the SLA clock: warning, overdue, timed escalation climbs, closing unevaluated
requests), `escalation` (one step up the org tree: the clock's and the `escalate` action's), `notices`
(the `request.*` supervision webhooks) and `deadlines` (recomputing deadlines still ahead after a calendar change).
"""
