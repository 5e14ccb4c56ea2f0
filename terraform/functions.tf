# Every function in resources.yaml (= every functions/<name>/ directory) as a Cloud Functions
# gen2 function built from its own zip (scripts/package.py). Triggers are not function event
# triggers: public HTTP functions sit behind the load balancer (loadbalancer.tf), Pub/Sub
# functions get the push subscription resources.yaml names (messaging.tf), task functions are
# Cloud Tasks HTTP targets, crons are called by Cloud Scheduler (scheduler.tf). All with OIDC.

resource "google_cloudfunctions2_function" "function" {
  for_each = local.functions

  name     = local.function_service_names[each.key]
  location = var.region

  build_config {
    runtime         = "python311"
    entry_point     = each.value.entry_point
    service_account = google_service_account.builder.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.source[each.key].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.function[each.key].email
    available_memory                 = local.function_runtime[each.key].memory
    available_cpu                    = local.function_runtime[each.key].cpu
    max_instance_request_concurrency = local.function_runtime[each.key].concurrency
    max_instance_count               = local.function_runtime[each.key].max_instances
    min_instance_count               = local.function_runtime[each.key].min_instances
    timeout_seconds                  = local.function_runtime[each.key].timeout
    all_traffic_on_latest_revision   = true

    # Public route families only through the load balancer (Cloud Armor in front); everything
    # else only from Pub/Sub, Cloud Tasks, Cloud Scheduler and Workflows of this project.
    ingress_settings = contains(keys(local.http_functions), each.key) ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_INTERNAL_ONLY"

    vpc_connector                 = google_vpc_access_connector.serverless.id
    vpc_connector_egress_settings = "PRIVATE_RANGES_ONLY"

    environment_variables = merge(local.function_settings_env[each.key], local.function_runtime_env[each.key])

    dynamic "secret_environment_variables" {
      for_each = toset(local.function_access[each.key].secrets)
      content {
        key        = secret_environment_variables.value
        project_id = var.project
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }
  }

  labels = {
    function = local.function_service_names[each.key]
    trigger  = each.value.trigger
  }

  depends_on = [
    google_secret_manager_secret_iam_member.function,
    google_project_iam_member.builder,
    google_storage_bucket_iam_member.builder_reads_sources,
  ]
}

# --- Cloud Run job: migrations ----------------------------------------------------------------------
# A function is the wrong fit for schema changes (one run per deploy, may outlast a request,
# must never race itself): a job with one task and no retries, executed by cloudbuild.yaml
# before the functions switch to new code.

resource "google_artifact_registry_repository" "images" {
  repository_id = "platform"
  location      = var.region
  format        = "DOCKER"
  description   = "Images of Cloud Run jobs (migrate)"

  #checkov:skip=CKV_GCP_84:Images hold only our code and its dependencies, no data or secrets; Google-managed encryption. CMEK follow-up in docs/decisions/terraform-security-choices.md.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_cloud_run_v2_job" "migrate" {
  name                = "migrate"
  location            = var.region
  deletion_protection = false

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.migrate.email
      max_retries     = 0
      timeout         = "1800s"

      vpc_access {
        connector = google_vpc_access_connector.serverless.id
        egress    = "PRIVATE_RANGES_ONLY"
      }

      containers {
        image   = var.migrate_image
        command = ["python", "-m", "shared.platform.migrate"]

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }

        dynamic "env" {
          for_each = merge(local.common_settings_env, { DB_IAM_USER = local.migrate_db_user })
          content {
            name  = env.key
            value = env.value
          }
        }
      }
    }
  }

  depends_on = [google_project_iam_member.sql_client, google_project_iam_member.sql_instance_user]
}
