# One Cloud Scheduler job per resources.yaml cron, POSTing to its (internal) function with an
# OIDC token of the scheduler service account, at /_internal/<function> as the local gateway
# and scripts/local_cron.py do (the function routes by path).

resource "google_cloud_scheduler_job" "cron" {
  for_each = local.crons

  name             = each.key
  region           = var.region
  schedule         = each.value.schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "${min(local.function_runtime[each.value.function].timeout, 1800)}s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "10s"
    max_backoff_duration = "300s"
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloudfunctions2_function.function[each.value.function].service_config[0].uri}/_internal/${each.value.function}"
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode("{}")
    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.function[each.value.function].service_config[0].uri
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.invoker]
}
