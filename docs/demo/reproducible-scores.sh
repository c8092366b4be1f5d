#!/usr/bin/env bash
# SPEC §7.5 on a running platform: a score run, later work on its requests (a return and reassignment,
# a reopening by a dissatisfied evaluation, a classification), a second run at the same as_of with the
# same results, and a matching verify. Needs a fresh `make run` (the demo city: a second pass would file
# its requests as duplicates of the first) and jq.
#   INTAKE=http://127.0.0.1:8000 SCORING=http://127.0.0.1:8001 CREDENTIALS=.data/demo-credentials.txt \
#     bash docs/demo/reproducible-scores.sh
set -euo pipefail
I=${INTAKE:-http://127.0.0.1:8000}; S=${SCORING:-http://127.0.0.1:8001}
CREDENTIALS=${CREDENTIALS:-.data/demo-credentials.txt}
PW=$(sed -n 's/^Staff password: \([^ ]*\).*/\1/p' "$CREDENTIALS")
KEY=$(sed -n 's/^API key: //p' "$CREDENTIALS")
PERIOD=$(TZ=Asia/Shanghai date +%Y-%m)
say() { printf '\n$ %s\n' "$*"; }
token() { curl -sf -X POST "$I/v1/auth/token" -d "username=$1&password=$PW" | jq -r .access_token; }
SUP=$(token supervisor_city); DIS=$(token dispatcher_330203); HAN=$(token gw_330203001001001)
post() {  # url, body, curl options; the answer's body, or its problem on stderr and a failure
  local out code
  out=$(curl -s -w '\n%{http_code}' -X POST "$1" -H "Content-Type: application/json" "${@:3}" -d "$2")
  code=${out##*$'\n'}; out=${out%$'\n'*}
  if [ "$code" -ge 400 ]; then echo "POST $1 -> $code $out" >&2; return 1; fi
  echo "$out"
}
intake() {  # a hotline request in grid 330203001001001 (华严社区第1网格): category, words, lat, lon, phone
  post "$I/v1/requests" "{\"channel\":\"hotline\",\"category\":\"$1\",\"description\":\"$2\",
    \"location\":{\"lat\":$3,\"lon\":$4},\"citizen\":{\"name\":\"王五\",\"phone\":\"$5\"}}" \
    -H "X-API-Key: $KEY" | jq -r .id
}
wait_routed() { for _ in $(seq 1 50); do
  s=$(curl -s "$I/v1/requests/$1" -H "Authorization: Bearer $SUP" | jq -r .status)
  [ "$s" != received ] && return 0; sleep 0.2; done; echo "request $1 not routed" >&2; return 1; }
act() { post "$I/v1/requests/$1/$2" "$3" -H "Authorization: Bearer $4" > /dev/null; }

say "four hotline requests in one grid; the handler accepts three, resolves two; one is evaluated satisfied"
A=$(intake env.noise "华严街工地夜间施工噪声" 29.914 121.456 13900001111)
B=$(intake housing.property "物业不处理漏水" 29.910 121.454 13900002222)
C=$(intake env.noise "广场舞音响太响" 29.908 121.452 13900003333)
D=$(intake unknown "说不清的问题" 29.912 121.450 13900004444)
for r in $A $B $C $D; do wait_routed "$r"; done
# The dispatcher gives the three to one handler of the grid's team (the demo knows one handler's password).
claims=$(echo "$HAN" | cut -d. -f2 | tr '_-' '/+'); while [ $((${#claims} % 4)) -ne 0 ]; do claims="$claims="; done
ME=$(echo "$claims" | base64 -d | jq -r .sub)
for r in $A $B $C; do
  if [ "$(curl -sf "$I/v1/requests/$r" -H "Authorization: Bearer $DIS" | jq .handling.handler_id)" != "$ME" ]; then
    act "$r" reassign "{\"handler_id\":$ME}" "$DIS"
  fi
  act "$r" accept '{}' "$HAN"
done
for r in $A $C; do act "$r" resolve '{"outcome":"resolved","reply":"已修复"}' "$HAN"; done
post "$I/v1/requests/$A/feedback" '{"resolved":true,"satisfaction":"satisfied"}' -H "X-API-Key: $KEY" > /dev/null
echo "requests $A $B $C $D"

say "POST $S/v1/scores/runs {period: $PERIOD}   (as_of: now)"
FIRST=$(post "$S/v1/scores/runs" "{\"period\":\"$PERIOD\"}" -H "Authorization: Bearer $SUP")
echo "$FIRST" | jq -c '{id, status, as_of, scheme_version, cohort_size}'
RUN1=$(echo "$FIRST" | jq -r .id); AS_OF=$(echo "$FIRST" | jq -r .as_of)
grid() { curl -sf "$S/v1/scores/units/330203001001001?period=$PERIOD&run_id=$1" -H "Authorization: Bearer $SUP" \
  | jq -c '{run_id, as_of, three_rate_score: .three_rate_score.value, response: .rates.response_rate | {successes, n},
    resolution: .rates.resolution_rate | {successes, n}, satisfaction: .rates.satisfaction_rate | {successes, n}}'; }
grid "$RUN1"

say "later work: $B returned by its handler and reassigned; $C evaluated dissatisfied (reopened); $D classified"
act "$B" return '{"reason":"not_ours","note":"属供电公司"}' "$HAN"
wait_routed "$B"
act "$B" reassign "{\"team_id\":$(curl -sf "$I/v1/directory/teams?limit=2" -H "Authorization: Bearer $DIS" | jq ".items[1].id")}" "$DIS"
post "$I/v1/requests/$C/feedback" '{"resolved":false,"satisfaction":"dissatisfied"}' -H "X-API-Key: $KEY" | jq -c '{status, reopened}'
act "$D" classify '{"category":"utilities.water"}' "$DIS"
for r in $B $C $D; do curl -sf "$I/v1/requests/$r" -H "Authorization: Bearer $DIS" | jq -c '{id, status, category}'; done

say "POST $S/v1/scores/runs {period: $PERIOD, as_of: $AS_OF}   (the same as_of)"
SECOND=$(post "$S/v1/scores/runs" "{\"period\":\"$PERIOD\",\"as_of\":\"$AS_OF\"}" -H "Authorization: Bearer $SUP")
RUN2=$(echo "$SECOND" | jq -r .id); echo "$SECOND" | jq -c '{id, status, as_of}'
grid "$RUN2"
same() { curl -sf "$S/v1/scores/units?period=$PERIOD&level=$1&run_id=$2&limit=500" -H "Authorization: Bearer $SUP" \
  | jq -S '[.items[] | del(.run_id)]'; }
for level in city district street community grid; do
  if [ "$(same $level "$RUN1")" = "$(same $level "$RUN2")" ]; then echo "$level: identical"; else echo "$level: DIFFERENT"; fi
done

say "POST $S/v1/scores/runs/$RUN1/verify"
post "$S/v1/scores/runs/$RUN1/verify" '' -H "Authorization: Bearer $SUP" \
  | jq -c '{run_id, matches, compared, differences_total, requests_moved, facts_kept}'

say "POST $S/v1/scores/runs {period: $PERIOD}   (as_of: now, after the work: the grid's figures move)"
THIRD=$(post "$S/v1/scores/runs" "{\"period\":\"$PERIOD\"}" -H "Authorization: Bearer $SUP" | jq -r .id)
grid "$THIRD"
