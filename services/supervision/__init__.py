"""Supervision (督办): the supervisors' inbox, supervision orders and reminders, escalation up the hierarchy, deadline extensions."""
