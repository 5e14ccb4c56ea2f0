variable "project" {
  description = "Google Cloud project id (one project per environment)."
  type        = string
}

variable "region" {
  description = "Region of every regional resource (functions, SQL, buckets, queues, scheduler)."
  type        = string
  default     = "europe-west1"
}

variable "environment" {
  description = "Environment name; part of bucket and instance names."
  type        = string
  default     = "prod"
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.environment))
    error_message = "environment: 2-12 lower-case letters/digits, starting with a letter."
  }
}

variable "domain" {
  description = "Host name of the API and public pages (the load balancer's certificate covers it)."
  type        = string
}

variable "media_domain" {
  description = "Host name of the Cloud CDN playback endpoint (backend bucket on the media bucket)."
  type        = string
}

variable "media_cdn_key_name" {
  description = "Name of the key in MEDIA_CDN_SIGNING_KEYS (and on the media-cdn backend bucket) that signs media URLs (docs/DEPLOY.md)."
  type        = string
  default     = "k1"
  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.media_cdn_key_name))
    error_message = "media_cdn_key_name: a Compute Engine resource name (RFC 1035: lower case, digits, hyphens)."
  }
}

variable "cors_origins" {
  description = "Browser origins allowed to PUT uploads straight to the media bucket."
  type        = list(string)
  default     = []
}

variable "notification_channels" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) for every alert."
  type        = list(string)
  default     = []
}

variable "source_zip_dir" {
  description = "Directory holding build/functions/<name>.zip made by scripts/package.py."
  type        = string
  default     = "../build/functions"
}

variable "migrate_image" {
  description = "Container image of the `migrate` Cloud Run job (built by cloudbuild.yaml)."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/job:latest"
}

variable "first_apply" {
  description = <<-EOT
    True only for the very first apply into an empty project (docs/DEPLOY.md). It leaves out
    what needs something that does not exist yet: the platform_app role for the functions' IAM
    database users (created by the first migration) and the Cloud CDN fill account's read grant
    on the media bucket (Google creates that account when the first signed URL key is added).
  EOT
  type        = bool
  default     = false
}

variable "secrets_revision" {
  description = "Bump after adding a secret version: every function starts a new revision and reads it."
  type        = string
  default     = "1"
}

variable "jwt_active_kid" {
  description = "Key id in JWT_KEYS that signs new tokens; the others only verify."
  type        = string
  default     = "k1"
}

variable "smtp_host" {
  description = "SMTP relay host for transactional mail."
  type        = string
  default     = "smtp.sendgrid.net"
}

variable "smtp_port" {
  description = "SMTP relay port (STARTTLS)."
  type        = number
  default     = 587
}

variable "smtp_user" {
  description = "SMTP user name (the password is the SMTP_PASSWORD secret); empty for none."
  type        = string
  default     = ""
}

variable "mail_from" {
  description = "From header of transactional mail."
  type        = string
  default     = "Creator Platform <no-reply@example.com>"
}

# --- Cloud SQL -----------------------------------------------------------------------------------

variable "db_instance_name" {
  description = "Cloud SQL instance name; empty = \"<environment>-platform\". Set to a restored clone's name to cut over to it."
  type        = string
  default     = ""
}

variable "db_tier" {
  description = "Cloud SQL machine tier (db-custom-<vCPU>-<MiB>)."
  type        = string
  default     = "db-custom-2-7680"
}

variable "db_availability_type" {
  description = "REGIONAL (HA standby in another zone) or ZONAL."
  type        = string
  default     = "REGIONAL"
}

variable "db_max_connections" {
  description = "Postgres max_connections; must cover every function's max instances x pool."
  type        = number
  default     = 400
}

variable "db_reserved_connections" {
  description = "Connections kept free for migrations, ops and Cloud SQL's own agents."
  type        = number
  default     = 20
}

variable "db_deletion_protection" {
  description = "Refuse to delete the instance (turn off only to tear down a test environment)."
  type        = bool
  default     = true
}

variable "db_backup_retained" {
  description = "Number of daily automated backups kept."
  type        = number
  default     = 14
}

variable "db_log_retention_days" {
  description = "Days of write-ahead log kept for point-in-time recovery (1-7)."
  type        = number
  default     = 7
}

# --- edge ----------------------------------------------------------------------------------------

variable "rate_limit_per_ip_per_minute" {
  description = "Cloud Armor: requests per client IP per minute before 429."
  type        = number
  default     = 600
}

variable "auth_rate_limit_per_ip_per_minute" {
  description = "Cloud Armor: requests per client IP per minute to /v1/auth/* before 429."
  type        = number
  default     = 60
}

variable "trusted_proxy_hops" {
  description = "X-Forwarded-For entries our proxies append after the client's (TRUSTED_PROXY_HOPS): 1 behind the external Application Load Balancer, which appends <client>, <forwarding-rule IP>."
  type        = number
  default     = 1

  validation {
    condition     = var.trusted_proxy_hops >= 1 && var.trusted_proxy_hops <= 8
    error_message = "The functions sit behind the load balancer: at least its one hop."
  }
}

# --- alerting thresholds -------------------------------------------------------------------------

variable "alert_error_ratio" {
  description = "Alert when 5xx responses exceed this fraction of a function's requests (5 min)."
  type        = number
  default     = 0.02
}

variable "alert_queue_depth" {
  description = "Alert when a Cloud Tasks queue holds more tasks than this for 15 minutes."
  type        = number
  default     = 1000
}
