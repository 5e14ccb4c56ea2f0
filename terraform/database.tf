# Cloud SQL Postgres 15: private IP only, TLS required, IAM database authentication, daily
# backups with point-in-time recovery.
#
# Role model: `migrate` (Cloud Run job, service account db-migrate) owns the schema and runs
# `python -m shared.platform.migrate`; every function connects as its own IAM user, a member of the
# NOLOGIN group role platform_app (not an owner, no BYPASSRLS), so row-level security applies.

resource "google_sql_database_instance" "main" {
  name                = local.sql_instance_name
  database_version    = "POSTGRES_15"
  region              = var.region
  deletion_protection = var.db_deletion_protection

  settings {
    tier                        = var.db_tier
    edition                     = "ENTERPRISE"
    availability_type           = var.db_availability_type
    disk_type                   = "PD_SSD"
    disk_autoresize             = true
    deletion_protection_enabled = var.db_deletion_protection

    ip_configuration {
      ipv4_enabled                                  = false
      private_network                               = google_compute_network.vpc.id
      enable_private_path_for_google_cloud_services = true
      # Every client is the Cloud SQL Python Connector, which presents an ephemeral client
      # certificate: nothing else can connect.
      ssl_mode = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "02:00"
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = var.db_log_retention_days
      backup_retention_settings {
        retained_backups = var.db_backup_retained
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7
      hour         = 3
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = true
      record_client_address   = false
    }

    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }
    database_flags {
      name  = "max_connections"
      value = tostring(var.db_max_connections)
    }
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    database_flags {
      name  = "pgaudit.log"
      value = "ddl,role"
    }
  }

  #checkov:skip=CKV_GCP_79:Postgres 15 on purpose: the version the local stack and CI run (parity); upgrade both together.
  #checkov:skip=CKV2_GCP_13:log_duration logs every statement (cost, noise); Query Insights records latency per query instead.
  lifecycle {
    precondition {
      condition     = local.db_connections_needed <= var.db_max_connections
      error_message = "Functions' max instances x pool size (+ reserve) exceed db_max_connections."
    }
  }

  depends_on = [google_service_networking_connection.private_services]
}

resource "google_sql_database" "platform" {
  name     = local.db_name
  instance = google_sql_database_instance.main.name
}

# The schema owner. cloudsqlsuperuser lets it CREATE ROLE platform_app in the first migration
# and grant it; it is not a Postgres superuser and has no BYPASSRLS.
resource "google_sql_user" "migrate" {
  name           = local.migrate_db_user
  instance       = google_sql_database_instance.main.name
  type           = "CLOUD_IAM_SERVICE_ACCOUNT"
  database_roles = ["cloudsqlsuperuser"]

  depends_on = [google_service_account.migrate]
}

resource "google_sql_user" "function" {
  for_each = local.functions

  name           = local.function_db_users[each.key]
  instance       = google_sql_database_instance.main.name
  type           = "CLOUD_IAM_SERVICE_ACCOUNT"
  database_roles = var.first_apply ? [] : concat(["platform_app"], lookup(local.function_db_roles, each.key, []))

  depends_on = [google_service_account.function]
}
