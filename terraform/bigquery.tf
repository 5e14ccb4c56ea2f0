# The event warehouse (issue 14, item 4): every domain event and analytics event lands in one
# BigQuery table through Pub/Sub BigQuery subscriptions, with no code in between. Postgres
# keeps the rollups the KPI summary reads and a raw window bounded by plan (migration 0104).
#
# The table's schema is shared/analytics/bigquery_events.schema.json, the file the local
# stand-in (scripts/local_warehouse.py, NDJSON rows of the same schema) checks its rows
# against. Each subscription writes the message's JSON fields that are columns
# (use_table_schema) plus its metadata (subscription, message id, publish time, attributes);
# a message BigQuery refuses is retried, then dead-lettered to warehouse-dead.

locals {
  # BigQuery subscription name => the topic it drains (topics come from resources.yaml).
  warehouse_subscriptions = {
    "domain-events-warehouse"    = "domain-events"
    "analytics-events-warehouse" = "analytics-events"
  }
  warehouse_dataset = "platform_events_${replace(var.environment, "-", "_")}"
}

resource "google_project_service" "bigquery" {
  service            = "bigquery.googleapis.com"
  disable_on_destroy = false
}

resource "google_bigquery_dataset" "warehouse" {
  dataset_id                 = local.warehouse_dataset
  location                   = var.region
  description                = "Domain and analytics events of the platform (Pub/Sub BigQuery subscriptions)"
  delete_contents_on_destroy = false

  #checkov:skip=CKV_GCP_81:Google-managed encryption, as the topics the rows come from; CMEK is the regulated-tenant decision of docs/decisions/terraform-security-choices.md.
  depends_on = [google_project_service.bigquery]
}

resource "google_bigquery_table" "events" {
  dataset_id          = google_bigquery_dataset.warehouse.dataset_id
  table_id            = "events"
  description         = "One row per event delivery (at least once: deduplicate on id)"
  schema              = file("${path.module}/../shared/analytics/bigquery_events.schema.json")
  deletion_protection = true

  # Queries read days of one channel: partition by day, cluster by tenant then type, and make
  # every query name its days (a scan of all history is never an accident).
  time_partitioning {
    type  = "DAY"
    field = "occurred_at"
  }
  require_partition_filter = true
  clustering               = ["channel_id", "type"]

  #checkov:skip=CKV_GCP_80:Google-managed encryption (see the dataset).
}

# The Pub/Sub service agent writes the rows, and reads the table's metadata to map columns.
resource "google_bigquery_table_iam_member" "pubsub_writer" {
  for_each = toset(["roles/bigquery.dataEditor", "roles/bigquery.metadataViewer"])

  dataset_id = google_bigquery_dataset.warehouse.dataset_id
  table_id   = google_bigquery_table.events.table_id
  role       = each.value
  member     = local.pubsub_service_agent
}

resource "google_pubsub_topic" "warehouse_dead" {
  name                       = "warehouse-dead"
  message_retention_duration = "604800s"

  #checkov:skip=CKV_GCP_83:Google-managed encryption, as every topic (messaging.tf).
  depends_on = [google_project_service.api]
}

# Dead letters wait here (7 days) for scripts/replay_dead_letters.py or a look by hand.
resource "google_pubsub_subscription" "warehouse_dead" {
  name                       = "warehouse-dead"
  topic                      = google_pubsub_topic.warehouse_dead.id
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "warehouse" {
  for_each = local.warehouse_subscriptions

  name                       = each.key
  topic                      = google_pubsub_topic.topic[each.value].id
  message_retention_duration = "604800s"

  bigquery_config {
    table               = "${google_bigquery_table.events.project}.${google_bigquery_table.events.dataset_id}.${google_bigquery_table.events.table_id}"
    use_table_schema    = true
    write_metadata      = true
    drop_unknown_fields = true
  }

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.warehouse_dead.id
    max_delivery_attempts = 10
  }

  depends_on = [google_bigquery_table_iam_member.pubsub_writer]
}

# Dead-lettering: the service agent publishes to warehouse-dead and acks on the source.
resource "google_pubsub_topic_iam_member" "warehouse_dead_publisher" {
  topic  = google_pubsub_topic.warehouse_dead.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "warehouse_subscriber" {
  for_each = local.warehouse_subscriptions

  subscription = google_pubsub_subscription.warehouse[each.key].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
