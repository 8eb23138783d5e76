#!/bin/sh
# Starts one Tawasul process, named by the container's first argument (CMD or Kubernetes args).
# Each branch `exec`s, so the process is PID 1 and receives SIGTERM directly from the kubelet.
set -eu

usage() {
    cat >&2 <<'USAGE'
usage: entrypoint.sh PROCESS

HTTP processes (port 8000: API, /healthz, /readyz, /metrics):
  gateway          public API; the only process behind the Ingress
  intake           catalog, drafts, documents, submission, tracking
  routing          staff workspace, routing rules, statistics
  notify           SMS delivery receipts, staff message log
Workers (port 9100 = METRICS_PORT: /healthz, /readyz, /metrics):
  routing-worker   route_request, sla_sweep
  notify-worker    status SMS
  otp-worker       sign-in codes
  webhook-worker   partners' webhooks
One-off:
  migrate          alembic upgrade head, then load the service catalog
Scheduled:
  rescan           clamd's verdict for documents nobody scanned (CronJob, every 5 minutes)
USAGE
}

# shared.serve runs uvicorn with a graceful stop: on SIGTERM /readyz turns 503 at once, the
# pod keeps serving for SHUTDOWN_DELAY (set to 0 here: the preStop sleep already waits 5 s),
# then in-flight requests get 25 s. 5 + 0 + 25 stays under terminationGracePeriodSeconds (40).
serve() {
    exec python -m shared.serve "$1" --host 0.0.0.0 --port 8000 --graceful-timeout 25
}

if [ "$#" -lt 1 ]; then
    usage
    exit 64
fi
process="$1"
shift

case "$process" in
    gateway)
        serve gateway.app:create_app
        ;;
    intake)
        serve intake_service.app:create_app
        ;;
    routing)
        serve routing_service.app:create_app
        ;;
    notify)
        serve notify_service.app:create_app
        ;;
    routing-worker)
        exec python -m routing_service.worker
        ;;
    notify-worker)
        exec python -m notify_service.worker sms
        ;;
    otp-worker)
        exec python -m notify_service.worker otp
        ;;
    webhook-worker)
        exec python -m notify_service.worker webhooks
        ;;
    migrate)
        python -m alembic -c /app/alembic.ini upgrade head
        exec python -m services.db_loader "$@"
        ;;
    rescan)
        exec python -m intake_service.documents.rescan "$@"
        ;;
    -h | --help | help)
        usage
        exit 0
        ;;
    *)
        echo "entrypoint.sh: unknown process '$process'" >&2
        usage
        exit 64
        ;;
esac
