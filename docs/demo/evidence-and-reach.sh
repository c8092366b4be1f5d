#!/usr/bin/env bash
# Issue 16 on a running platform: a citizen's photo on a hotline request (EXIF location stripped, a
# thumbnail, short-lived signed links, refused when tampered or expired); the citizen's SMS through a
# gateway (the receipt with the tracking number, the resolution with the feedback invitation) and the
# evaluation coming back as an SMS reply; a search in Chinese and a phone lookup; a CSV export and an
# open-data GeoJSON file. Meant for a fresh `make run` (the demo city; on a second pass the search, the phone
# lookup and the exports find the first pass's request too), jq, and the venv's Pillow (.venv/bin/python).
#
# `make run` must point the SMS adapter at the fake gateway this script starts (docs/demo/sms_gateway_fake.py,
# on the URL's port; one already answering there is used as it is, so start a new one with each fresh database:
# it keeps one message per Idempotency-Key, msg_<id>, and the ids start again), with the same secret; links that last a
# few seconds let the script show one expire (the default, 300 s, is not waited for):
#   SMS_GATEWAY_URL=http://127.0.0.1:8025/sms/send SMS_GATEWAY_SECRET=demo-sms-gateway-secret \
#     ATTACHMENT_LINK_TTL_SECONDS=5 make run
#   SMS_GATEWAY_URL=http://127.0.0.1:8025/sms/send SMS_GATEWAY_SECRET=demo-sms-gateway-secret \
#     INTAKE=http://127.0.0.1:8000 CREDENTIALS=.data/demo-credentials.txt bash docs/demo/evidence-and-reach.sh
set -euo pipefail
I=${INTAKE:-http://127.0.0.1:8000}
GATEWAY_URL=${SMS_GATEWAY_URL:-http://127.0.0.1:8025/sms/send}; GW=${GATEWAY_URL%/sms/send}
GATEWAY_SECRET=${SMS_GATEWAY_SECRET:-demo-sms-gateway-secret}
CREDENTIALS=${CREDENTIALS:-.data/demo-credentials.txt}
PY=${PYTHON:-.venv/bin/python}
PW=$(sed -n 's/^Staff password: \([^ ]*\).*/\1/p' "$CREDENTIALS")
KEY=$(sed -n 's/^API key: //p' "$CREDENTIALS")
ADMIN_PW=$(sed -n 's/^Admin login: [^ ]* //p' "$CREDENTIALS")
PHONE=13957400016
TMP=$(mktemp -d); FAKE_PID=
cleanup() { [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
say() { printf '\n$ %s\n' "$*"; }
token() { curl -sf -X POST "$I/v1/auth/token" -d "username=$1&password=$2" | jq -r .access_token; }
SUP=$(token supervisor_city "$PW"); DIS=$(token dispatcher_330203 "$PW"); HAN=$(token gw_330203001001001 "$PW")
ADM=$(token admin "$ADMIN_PW")
post() {  # url, body, curl options; the answer's body, or its problem on stderr and a failure
  local out code
  out=$(curl -s -w '\n%{http_code}' -X POST "$1" -H "Content-Type: application/json" "${@:3}" -d "$2")
  code=${out##*$'\n'}; out=${out%$'\n'*}
  if [ "$code" -ge 400 ]; then echo "POST $1 -> $code $out" >&2; return 1; fi
  echo "$out"
}
act() { post "$I/v1/requests/$1/$2" "$3" -H "Authorization: Bearer $4" > /dev/null; }
status_of() { curl -s -o /dev/null -w '%{http_code}' "$1"; }  # a URL's HTTP status
problem() { curl -s "$1" | jq -c '{status, title}'; }
exif() {  # what a JPEG says about itself: format, size, camera, GPS position
  "$PY" - "$1" <<'EOF'
import json, sys
from PIL import Image
im = Image.open(sys.argv[1]); exif = im.getexif(); gps = exif.get_ifd(0x8825)
dms = lambda v: "%d°%d'%.1f\"" % tuple(float(x) for x in v)
print(json.dumps({"format": im.format, "size": "%dx%d" % im.size, "exif_tags": len(exif), "make": exif.get(0x010F),
  "gps": f"{gps[1]} {dms(gps[2])} {gps[3]} {dms(gps[4])}" if 2 in gps else None}, ensure_ascii=False))
EOF
}
sms_to() { curl -sf "$GW/sms/sent?to=$1"; }
wait_sms() { for _ in $(seq 1 100); do  # phone, how many
  [ "$(sms_to "$1" | jq length)" -ge "$2" ] && return 0; sleep 0.3; done; echo "no SMS $2 for $1" >&2; return 1; }

if [ "$(status_of "$GW/healthz")" != 200 ]; then
  "$PY" docs/demo/sms_gateway_fake.py --port "${GW##*:}" --secret "$GATEWAY_SECRET" \
    --reply-to "$I/v1/messages/sms/replies" > "$TMP/gateway.log" 2>&1 &
  FAKE_PID=$!
  for _ in $(seq 1 50); do [ "$(status_of "$GW/healthz")" = 200 ] && break; sleep 0.1; done
fi
echo "SMS gateway fake: $GATEWAY_URL"

say "POST $I/v1/requests   (a hotline request in 华严社区第1网格, the citizen's phone $PHONE)"
R=$(post "$I/v1/requests" "{\"channel\":\"hotline\",\"category\":\"env.noise\",
  \"description\":\"华严街3号楼下烧烤店油烟噪音扰民，深夜仍在营业\",\"location\":{\"lat\":29.914,\"lon\":121.456,\"address\":\"华严街3号\"},
  \"citizen\":{\"name\":\"赵六\",\"phone\":\"$PHONE\"}}" -H "X-API-Key: $KEY")
echo "$R" | jq -c '{id, tracking_no, status}'
ID=$(echo "$R" | jq -r .id); TRACKING=$(echo "$R" | jq -r .tracking_no)

# (1) The citizen's photo, taken with the phone's location on.
"$PY" - "$TMP/IMG_0016.jpg" <<'EOF'
import sys
from PIL import Image, ImageDraw
im = Image.new("RGB", (1200, 900), (90, 140, 200)); d = ImageDraw.Draw(im)
d.rectangle((100, 500, 1100, 880), fill=(60, 60, 60)); d.ellipse((800, 80, 1000, 280), fill=(250, 220, 80))
exif = Image.Exif(); exif[0x010F] = "DemoCam"; exif[0x0110] = "Phone X1"; exif[0x0132] = "2026:12:04 21:30:00"
exif.get_ifd(0x8825).update({1: "N", 2: (29.0, 54.0, 50.4), 3: "E", 4: (121.0, 27.0, 21.6)})
im.save(sys.argv[1], "JPEG", exif=exif, quality=85)
EOF
say "the citizen's photo IMG_0016.jpg as taken ($(wc -c < "$TMP/IMG_0016.jpg") bytes)"
exif "$TMP/IMG_0016.jpg"
say "POST $I/v1/requests/$ID/attachments   (multipart files=@IMG_0016.jpg, the integration's X-API-Key)"
UP=$(curl -sf -H "X-API-Key: $KEY" -F "files=@$TMP/IMG_0016.jpg;type=image/jpeg" "$I/v1/requests/$ID/attachments")
echo "$UP" | jq -c '.items[0] | {id, target, filename, content_type, size_bytes, width, height, metadata_kept,
  public, uploaded_by, sha256: (.sha256[:16] + "…")}'
echo "$UP" | jq -r '.items[0].links | "links: \(.download | sub("signature=.*"; "signature=…")), thumbnail …, expires_at \(.expires_at)"'
say "the same upload asking keep_metadata=true as an integration (citizens' images are always stripped)"
curl -s -H "X-API-Key: $KEY" -F "files=@$TMP/IMG_0016.jpg" -F keep_metadata=true "$I/v1/requests/$ID/attachments" \
  | jq -c '{status, errors: [.errors[]? | .field]}'

# (2) and (3): what the links serve, and what they refuse.
say "GET $I/v1/requests/$ID/attachments   (the supervisor: fresh signed links)"
LINKS=$(curl -sf "$I/v1/requests/$ID/attachments" -H "Authorization: Bearer $SUP" | jq -c '.items[0].links')
DOWNLOAD=$I$(echo "$LINKS" | jq -r .download); THUMB=$I$(echo "$LINKS" | jq -r .thumbnail)
EXPIRES=$(echo "$DOWNLOAD" | sed 's/.*expires=\([0-9]*\).*/\1/')
echo "${DOWNLOAD%%signature=*}signature=…   (no other credentials)"
say "curl \"\$download\"   (the stored original)"
curl -sf -D "$TMP/headers" -o "$TMP/original.jpg" "$DOWNLOAD"
grep -i '^\(HTTP\|content-type\|content-disposition\|content-security-policy\)' "$TMP/headers" | tr -d '\r'
echo "sha256 $(sha256sum < "$TMP/original.jpg" | cut -c1-16)… (matches the upload's: $(
  [ "$(sha256sum < "$TMP/original.jpg" | cut -d' ' -f1)" = "$(echo "$UP" | jq -r '.items[0].sha256')" ] && echo yes || echo NO))"
exif "$TMP/original.jpg"
say "curl \"\$thumbnail\""
curl -sf -o "$TMP/thumbnail.jpg" "$THUMB"
exif "$TMP/thumbnail.jpg"
say "the link tampered with: another signature / a later expiry / no signature"
problem "${DOWNLOAD%?}A"
problem "${DOWNLOAD/expires=$EXPIRES/expires=$((EXPIRES + 3600))}"
problem "${DOWNLOAD%%&signature=*}"
LEFT=$((EXPIRES - $(date +%s)))
if [ "$LEFT" -le 15 ]; then
  sleep $((LEFT + 1))
  say "the same link once its expires=$EXPIRES has passed"
  problem "$DOWNLOAD"
else
  echo "(expiry not waited for: the link lasts ${LEFT} s more; start make run with ATTACHMENT_LINK_TTL_SECONDS=5 to see it)"
fi

# (4) The citizen hears from the platform by SMS, and answers by SMS.
say "GET $GW/sms/sent?to=$PHONE   (the fake gateway: the receipt, queued at the first routing decision)"
wait_sms "$PHONE" 1
sms_to "$PHONE" | jq -c '.[0] | {message_id, to, sign_name, text}'
ME=$(echo "$HAN" | cut -d. -f2 | tr '_-' '/+'); while [ $((${#ME} % 4)) -ne 0 ]; do ME="$ME="; done
ME=$(echo "$ME" | base64 -d | jq -r .sub)
if [ "$(curl -sf "$I/v1/requests/$ID" -H "Authorization: Bearer $DIS" | jq .handling.handler_id)" != "$ME" ]; then
  act "$ID" reassign "{\"handler_id\":$ME}" "$DIS"
fi
act "$ID" accept '{}' "$HAN"
say "POST $I/v1/requests/$ID/resolve   (the grid worker: accepted, then resolved)"
act "$ID" resolve '{"outcome":"resolved","reply":"已约谈店主，油烟净化器已安装，22点后停止营业"}' "$HAN"
curl -sf "$I/v1/requests/$ID" -H "Authorization: Bearer $SUP" | jq -c '{id, status, handler: .handling.handler_name}'
say "GET $GW/sms/sent?to=$PHONE   (the resolution, with the feedback invitation)"
wait_sms "$PHONE" 2
TEXT=$(sms_to "$PHONE" | jq -r '.[1].text'); sms_to "$PHONE" | jq -c '.[1] | {message_id, text}'
CODE=$(echo "$TEXT" | sed -n 's/.*请回复\([0-9]\{4\}\)加数字.*/\1/p'); LINK=$(echo "$TEXT" | grep -o 'http[^ ）]*')
say "GET ${LINK%/*}/…   (the feedback link of the SMS: what the citizen is invited to evaluate)"
curl -sf "$LINK" | jq -c '{tracking_no, status, outcome, public_reply, open}'
say "POST $I/v1/messages/sms/replies without the gateway's signature"
curl -s -X POST "$I/v1/messages/sms/replies" -H "Content-Type: application/json" \
  -d "{\"message_id\":\"forged-1\",\"from\":\"$PHONE\",\"text\":\"3\"}" | jq -c '{status, title}'
say "POST $GW/sms/inbound {from: $PHONE, text: ${CODE}1}   (the citizen answers with the reply code and 1 满意;
  the gateway passes it on, signed, to POST $I/v1/messages/sms/replies)"
post "$GW/sms/inbound" "{\"from\":\"$PHONE\",\"text\":\"${CODE}1\"}" | jq -c '{status, answer}'
say "GET $I/v1/requests/$ID   (the evaluation recorded, the request closed)"
curl -sf "$I/v1/requests/$ID" -H "Authorization: Bearer $SUP" | jq -c '{id, tracking_no, status, feedback}'
curl -sf "$I/v1/requests/$ID/events" -H "Authorization: Bearer $SUP" \
  | jq -c '{chain_intact, last: [.items[] | {seq, kind, actor, to_status}] | .[-2:]}'
curl -sf "$LINK" | jq -c '{open}'
curl -sf "$I/v1/admin/messages?request_id=$ID" -H "Authorization: Bearer $ADM" \
  | jq -c '.items[] | {id, event, medium, state, attempts, last_code}'

# (5) Finding it again.
Q=油烟噪音
say "GET $I/v1/search/requests?q=$Q   (the supervisor)"
curl -sf -G "$I/v1/search/requests" --data-urlencode "q=$Q" -H "Authorization: Bearer $SUP" \
  | jq -c '{ranked, window_full, items: [.items[] | {score, matched, id: .request.id, description: .request.description}]}'
say "GET $I/v1/search/requests?q=华严街 营业&status=closed   (two words, both required, and a filter)"
curl -sf -G "$I/v1/search/requests" --data-urlencode "q=华严街 营业" -d status=closed -H "Authorization: Bearer $SUP" \
  | jq -c '{ranked, items: [.items[] | {score, matched, id: .request.id}]}'
say "POST $I/v1/search/by-phone {phone: $PHONE}   (the dispatcher: has this caller called before?)"
post "$I/v1/search/by-phone" "{\"phone\":\"$PHONE\"}" -H "Authorization: Bearer $DIS" \
  | jq -c '.items[] | {id, tracking_no, status, citizen}'
curl -sf "$I/v1/admin/audit?limit=5" -H "Authorization: Bearer $ADM" \
  | jq -c '[.items[] | select(.action == "requests.phone_lookup")][0] | {action, actor_name, target_kind, target_id, after}'

# (6) Taking it away.
say "GET $I/v1/exports/requests.csv   (the supervisor; first lines)"
curl -sf "$I/v1/exports/requests.csv" -H "Authorization: Bearer $SUP" > "$TMP/export.csv"
echo "first bytes$(head -c3 "$TMP/export.csv" | od -An -tx1) (UTF-8 BOM), $(wc -l < "$TMP/export.csv") lines:"
sed '1s/^\xEF\xBB\xBF//' "$TMP/export.csv" | head -3
say "GET $I/v1/open-data/requests.geojson   (anonymised, for publication; first feature)"
curl -sf -D "$TMP/headers" "$I/v1/open-data/requests.geojson" -H "Authorization: Bearer $SUP" \
  | jq -c '{type, features: (.features | length), first: .features[0]}'
grep -i '^content-type' "$TMP/headers" | tr -d '\r'
