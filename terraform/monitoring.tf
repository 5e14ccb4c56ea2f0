# Log-based metrics and alert policies, all to var.notification_channels:
#   error rate (5xx share per function), error log entries per function, dead-lettered messages,
#   Cloud Tasks queue backlog, failed jobs (migrate job, cron attempts, workflow executions).

resource "google_logging_metric" "function_errors" {
  name        = "platform/function_errors"
  description = "ERROR or worse log entries written by a platform function"
  filter      = "resource.type=\"cloud_run_revision\" AND severity>=ERROR"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "service_name"
      value_type  = "STRING"
      description = "Cloud Run service of the function"
    }
  }
  label_extractors = {
    service_name = "EXTRACT(resource.labels.service_name)"
  }
}

resource "google_logging_metric" "cron_failures" {
  name        = "platform/cron_failures"
  description = "Cloud Scheduler attempts that did not get a 2xx"
  filter      = "resource.type=\"cloud_scheduler_job\" AND jsonPayload.@type=\"type.googleapis.com/google.cloud.scheduler.logging.AttemptFinished\" AND severity>=ERROR"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "job_id"
      value_type = "STRING"
    }
  }
  label_extractors = {
    job_id = "EXTRACT(resource.labels.job_id)"
  }
}

resource "google_logging_metric" "webhook_rejections" {
  name        = "platform/webhook_rejections"
  description = "Webhook deliveries refused (no or bad signature, stale timestamp), by provider: the log line each webhook function writes instead of an audit row per rejection"
  filter      = "resource.type=\"cloud_run_revision\" AND jsonPayload.metric=\"webhook_rejected\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "provider"
      value_type = "STRING"
    }
  }
  label_extractors = {
    provider = "EXTRACT(jsonPayload.provider)"
  }
}

locals {
  alert_common = {
    combiner              = "OR"
    notification_channels = var.notification_channels
  }
}

resource "google_monitoring_alert_policy" "error_rate" {
  display_name          = "Platform: function 5xx rate above ${var.alert_error_ratio * 100}%"
  combiner              = local.alert_common.combiner
  notification_channels = local.alert_common.notification_channels

  conditions {
    display_name = "5xx / all requests per function, 5 min"
    condition_threshold {
      filter             = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code_class=\"5xx\""
      denominator_filter = "resource.type=\"cloud_run_revision\" AND metric.type=\"run.googleapis.com/request_count\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.alert_error_ratio
      duration           = "300s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
    }
  }

  documentation {
    content   = "A function answers 5xx to more than ${var.alert_error_ratio * 100}% of requests. Check its logs (platform/function_errors) and the last deploy; roll back per docs/DEPLOY.md."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "error_logs" {
  display_name          = "Platform: function error logs"
  combiner              = local.alert_common.combiner
  notification_channels = local.alert_common.notification_channels

  conditions {
    display_name = "more than 10 ERROR entries in 5 min"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.function_errors.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 10
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.service_name"]
      }
    }
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "Platform: messages dead-lettered"
  combiner              = local.alert_common.combiner
  notification_channels = local.alert_common.notification_channels

  conditions {
    display_name = "a subscription forwarded messages to its dead-letter topic"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.subscription_id"]
      }
    }
  }

  conditions {
    display_name = "dead-letter inspection subscriptions hold messages"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.label.subscription_id=monitoring.regex.full_match(\".*-dead-inspect\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "600s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    content   = "Poison messages reached a dead-letter topic. Inspect them on the *-dead-inspect subscription, fix the consumer, replay (docs/DEPLOY.md)."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "queue_backlog" {
  display_name          = "Platform: Cloud Tasks backlog"
  combiner              = local.alert_common.combiner
  notification_channels = local.alert_common.notification_channels

  conditions {
    display_name = "queue depth above ${var.alert_queue_depth} for 15 min"
    condition_threshold {
      filter          = "resource.type=\"cloud_tasks_queue\" AND metric.type=\"cloudtasks.googleapis.com/queue/depth\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_queue_depth
      duration        = "900s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.label.queue_id"]
      }
    }
  }
}

resource "google_monitoring_alert_policy" "failed_jobs" {
  display_name          = "Platform: failed jobs"
  combiner              = local.alert_common.combiner
  notification_channels = local.alert_common.notification_channels

  conditions {
    display_name = "migrate (Cloud Run job) execution failed"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_job\" AND metric.type=\"run.googleapis.com/job/completed_execution_count\" AND metric.labels.result=\"failed\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.job_name"]
      }
    }
  }

  conditions {
    display_name = "a cron attempt failed twice within 30 min"
    condition_threshold {
      filter          = "resource.type=\"cloud_scheduler_job\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.cron_failures.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "0s"
      aggregations {
        alignment_period     = "1800s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.job_id"]
      }
    }
  }

  conditions {
    display_name = "a workflow execution failed"
    condition_threshold {
      filter          = "resource.type=\"workflows.googleapis.com/Workflow\" AND metric.type=\"workflows.googleapis.com/finished_execution_count\" AND metric.labels.status=\"FAILED\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.workflow_id"]
      }
    }
  }
}

resource "google_monitoring_alert_policy" "webhook_rejections" {
  display_name          = "Platform: webhook deliveries rejected"
  combiner              = local.alert_common.combiner
  notification_channels = local.alert_common.notification_channels

  conditions {
    display_name = "more than 20 rejected webhook deliveries in 10 min (wrong secret after a rotation?)"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.webhook_rejections.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 20
      duration        = "0s"
      aggregations {
        alignment_period   = "600s"
        per_series_aligner = "ALIGN_DELTA"
      }
    }
  }
}
