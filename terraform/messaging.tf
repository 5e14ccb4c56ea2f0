# Pub/Sub topics and subscriptions and Cloud Tasks queues, exactly as listed in resources.yaml.

locals {
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "topic" {
  for_each = local.topics

  name                       = each.key
  message_retention_duration = "604800s"

  #checkov:skip=CKV_GCP_83:Google-managed encryption; CMEK (a KMS key per topic and service agent grants) is a decision for regulated tenants, see docs/decisions/terraform-security-choices.md.
  depends_on = [google_project_service.api]
}

resource "google_pubsub_subscription" "subscription" {
  for_each = local.subscriptions

  name                       = each.key
  topic                      = google_pubsub_topic.topic[each.value.topic].id
  filter                     = each.value.filter
  ack_deadline_seconds       = each.value.push_function == null ? 60 : local.function_runtime[each.value.push_function].timeout
  message_retention_duration = "604800s"
  retain_acked_messages      = false

  # Never expire for inactivity: a quiet dead-letter subscription must still keep its messages.
  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  # Push straight to the function with an OIDC token for its URL; the function answers 2xx to
  # ack, anything else (it raises) to retry with backoff. Same path as the local gateway's
  # /_events/<function> mount.
  dynamic "push_config" {
    for_each = each.value.push_function == null ? [] : [each.value.push_function]
    content {
      push_endpoint = "${google_cloudfunctions2_function.function[push_config.value].service_config[0].uri}/_events/${push_config.value}"
      oidc_token {
        service_account_email = google_service_account.pubsub_push.email
        audience              = google_cloudfunctions2_function.function[push_config.value].service_config[0].uri
      }
    }
  }

  dynamic "dead_letter_policy" {
    for_each = each.value.dead_letter_topic == null ? [] : [each.value.dead_letter_topic]
    content {
      dead_letter_topic     = google_pubsub_topic.topic[dead_letter_policy.value].id
      max_delivery_attempts = each.value.max_delivery_attempts
    }
  }
}

# Dead-lettering needs the Pub/Sub service agent to publish to the dead-letter topic and to
# acknowledge on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.dead_letter_topics

  topic  = google_pubsub_topic.topic[each.value].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.dead_lettering_subscriptions

  subscription = google_pubsub_subscription.subscription[each.value].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

resource "google_cloud_tasks_queue" "queue" {
  for_each = local.queues

  name     = each.key
  location = var.region

  rate_limits {
    max_dispatches_per_second = each.value.max_dispatches_per_second
    max_concurrent_dispatches = try(each.value.max_concurrent_dispatches, 10)
  }

  retry_config {
    max_attempts       = each.value.max_attempts
    min_backoff        = try(each.value.min_backoff, "5s")
    max_backoff        = try(each.value.max_backoff, "600s")
    max_doublings      = try(each.value.max_doublings, 5)
    max_retry_duration = try(each.value.max_retry_duration, "86400s")
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.api]
}
