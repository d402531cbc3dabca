#!/bin/sh
# A hellomgr hook: tell a webhook (WEBHOOK_URL, e.g. a Slack or Mattermost
# incoming webhook) what happened to an instance. hellomgr runs it with
# PORT, PID, STATE, REASON and LAST_EXIT in its environment, kills it after
# hooks.timeout, and logs its output when it fails.
exec curl -fsS --max-time 4 -H 'Content-Type: application/json' \
  -d "{\"text\": \"hellomgr on $(hostname): port $PORT $STATE ($REASON), pid $PID, last exit $LAST_EXIT\"}" \
  "${WEBHOOK_URL:?set WEBHOOK_URL to the webhook to post to}"
