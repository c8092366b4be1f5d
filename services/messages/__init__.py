"""Messages to citizens (短信/推送): receipt, reply, resolution with the feedback invitation, reopening."""
