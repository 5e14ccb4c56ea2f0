# One service account per function, plus one identity per caller kind (Pub/Sub push, Cloud Tasks,
# Cloud Scheduler, Workflows), the migrate job and the function builder. Every grant is on the
# single resource it is needed for; the only project-level grants are conditioned on the
# Cloud SQL instance or the Firestore database.

resource "google_service_account" "function" {
  for_each = local.functions

  account_id   = local.function_sa_ids[each.key]
  display_name = "Function ${each.key}"
  depends_on   = [google_project_service.api]
}

resource "google_service_account" "migrate" {
  account_id   = local.migrate_sa_id
  display_name = "Cloud Run job migrate (schema owner)"
  depends_on   = [google_project_service.api]
}

resource "google_service_account" "pubsub_push" {
  account_id   = local.pubsub_push_sa
  display_name = "Pub/Sub push subscriptions (OIDC)"
  depends_on   = [google_project_service.api]
}

resource "google_service_account" "tasks_invoker" {
  account_id   = local.tasks_invoker_sa
  display_name = "Cloud Tasks HTTP targets (OIDC)"
  depends_on   = [google_project_service.api]
}

resource "google_service_account" "scheduler" {
  account_id   = local.scheduler_sa
  display_name = "Cloud Scheduler cron jobs (OIDC)"
  depends_on   = [google_project_service.api]
}

resource "google_service_account" "workflows" {
  account_id   = local.workflows_sa
  display_name = "Workflows executions"
  depends_on   = [google_project_service.api]
}

resource "google_service_account" "builder" {
  account_id   = local.builder_sa
  display_name = "Cloud Functions builds"
  depends_on   = [google_project_service.api]
}

# --- Cloud SQL: connect (client) and log in as the IAM database user (instanceUser) ------------

locals {
  sql_principals = merge(
    { for k in keys(local.functions) : "fn/${k}" => google_service_account.function[k].member },
    { "job/migrate" = google_service_account.migrate.member },
  )
  sql_condition = "resource.name == \"projects/${var.project}/instances/${local.sql_instance_name}\" && resource.service == \"sqladmin.googleapis.com\""
}

resource "google_project_iam_member" "sql_client" {
  for_each = local.sql_principals

  project = var.project
  role    = "roles/cloudsql.client"
  member  = each.value
  condition {
    title      = "platform-sql-instance-only"
    expression = local.sql_condition
  }
}

resource "google_project_iam_member" "sql_instance_user" {
  for_each = local.sql_principals

  project = var.project
  role    = "roles/cloudsql.instanceUser"
  member  = each.value
  condition {
    title      = "platform-sql-instance-only"
    expression = local.sql_condition
  }
}

# --- per-function data access (local.function_access) ------------------------------------------

resource "google_secret_manager_secret_iam_member" "function" {
  for_each = local.function_secret_grants

  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}

resource "google_storage_bucket_iam_member" "function" {
  for_each = local.function_bucket_grants

  bucket = google_storage_bucket.data[each.value.bucket].name
  role   = each.value.role
  member = google_service_account.function[each.value.function].member

  depends_on = [google_project_iam_custom_role.object_deleter]
}

# Bucket access mode "delete" (media_cleanup): storage.objects.delete and nothing else, granted
# per bucket like the predefined roles above, never project-wide.
resource "google_project_iam_custom_role" "object_deleter" {
  project     = var.project
  role_id     = local.object_deleter_role_id
  title       = "Storage object deleter"
  description = "Delete objects, without reading, listing or writing them."
  permissions = ["storage.objects.delete"]
}

resource "google_pubsub_topic_iam_member" "function" {
  for_each = local.function_topic_grants

  topic  = google_pubsub_topic.topic[each.value.topic].id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.value.function].member
}

resource "google_cloud_tasks_queue_iam_member" "function" {
  for_each = local.function_queue_grants

  name     = google_cloud_tasks_queue.queue[each.value.queue].name
  location = var.region
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.function[each.value.function].member
}

# A task carrying an OIDC token of tasks-invoker is created "as" that account.
resource "google_service_account_iam_member" "enqueuer_acts_as_tasks_invoker" {
  for_each = local.task_enqueuers

  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.function[each.value].member
}

# V4 signed URLs without a key file: the function signs as itself through IAM signBlob.
resource "google_service_account_iam_member" "signs_as_itself" {
  for_each = local.url_signers

  service_account_id = google_service_account.function[each.value].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.function[each.value].member
}

resource "google_project_iam_member" "firestore_user" {
  for_each = local.firestore_users

  project = var.project
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.value].member
  condition {
    title      = "platform-firestore-default-db"
    expression = "resource.name.startsWith(\"projects/${var.project}/databases/(default)\")"
  }
}

# --- who may invoke which function (run.invoker on the function's Cloud Run service) -------------

# local.invokers (locals.tf): public route families to allUsers (the load balancer forwards
# unauthenticated traffic and the functions check their own JWTs; ingress admits only the load
# balancer), push/task/cron/workflow targets to their caller's service account only.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.invokers

  name     = google_cloudfunctions2_function.function[each.value.function].service_config[0].service
  location = var.region
  role     = "roles/run.invoker"
  member   = each.value.member

  depends_on = [
    google_service_account.pubsub_push,
    google_service_account.tasks_invoker,
    google_service_account.scheduler,
    google_service_account.workflows,
  ]
}

# --- migrate job, builder, workflows ------------------------------------------------------------

resource "google_project_iam_member" "builder" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/artifactregistry.writer",
  ])

  project = var.project
  role    = each.value
  member  = google_service_account.builder.member
}

resource "google_storage_bucket_iam_member" "builder_reads_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.builder.member
}

resource "google_project_iam_member" "workflows_logs" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = google_service_account.workflows.member
}

# --- audit logs ------------------------------------------------------------------------------------
# Data Access audit logs for the buckets (who read or wrote which object) instead of legacy
# usage-log buckets.
resource "google_project_iam_audit_config" "storage" {
  project = var.project
  service = "storage.googleapis.com"

  audit_log_config {
    log_type = "ADMIN_READ"
  }
  audit_log_config {
    log_type = "DATA_WRITE"
  }
}
