# One bucket per resources.yaml `buckets` entry, named "<project>-<environment>-<key>" (the
# settings' BUCKET_PREFIX + "-" + key), private with uniform access. Plus the bucket holding the
# function source zips.

resource "google_storage_bucket" "data" {
  for_each = local.buckets

  name                        = each.value.name
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Versioning guards against an overwrite or delete by a bug; old versions go after 7 days.
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  dynamic "lifecycle_rule" {
    for_each = try(each.value.lifecycle.abort_incomplete_days, null) == null ? [] : [each.value.lifecycle.abort_incomplete_days]
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "AbortIncompleteMultipartUpload"
      }
    }
  }

  dynamic "lifecycle_rule" {
    for_each = try(each.value.lifecycle.delete_after_days, null) == null ? [] : [each.value.lifecycle.delete_after_days]
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }

  # Retention by plan (planned): once the recordings code exists it sets each object's customTime
  # to the end of its channel plan's retention, and this rule deletes it a day later (1, not 0:
  # a zero condition is easily dropped as "unset"). No code writes recordings yet, so today
  # only the bucket's delete_after_days ceiling applies.
  dynamic "lifecycle_rule" {
    for_each = try(local.bucket_extras[each.key].delete_at_custom_time, false) ? [1] : []
    content {
      condition {
        days_since_custom_time = 1
      }
      action {
        type = "Delete"
      }
    }
  }

  dynamic "cors" {
    for_each = try(each.value.cors_put, false) ? [1] : []
    content {
      origin          = concat([local.public_base_url], var.cors_origins)
      method          = ["PUT", "GET", "HEAD"]
      response_header = ["Content-Type", "Content-Length", "x-goog-content-length-range"]
      max_age_seconds = 3600
    }
  }

  #checkov:skip=CKV_GCP_62:Object writes and admin reads are recorded by Cloud Audit Logs (storage DATA_WRITE + ADMIN_READ, iam.tf); legacy usage-log buckets would duplicate them.
  depends_on = [google_project_service.api]
}

# GCS notifications (e.g. media OBJECT_FINALIZE -> media-object-events), as resources.yaml says.
resource "google_storage_notification" "bucket" {
  for_each = local.bucket_notifications

  bucket         = google_storage_bucket.data[each.value.bucket].name
  topic          = google_pubsub_topic.topic[each.value.topic].id
  payload_format = "JSON_API_V1"
  event_types    = each.value.event_types

  depends_on = [google_pubsub_topic_iam_member.gcs_publishes]
}

data "google_storage_project_service_account" "gcs" {
}

resource "google_pubsub_topic_iam_member" "gcs_publishes" {
  for_each = toset([for n in values(local.bucket_notifications) : n.topic])

  topic  = google_pubsub_topic.topic[each.value].id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

# --- function sources ------------------------------------------------------------------------------

resource "google_storage_bucket" "sources" {
  name                        = local.source_bucket_name
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }
  # Zips are named by content hash; old ones are only needed for a rollback.
  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  #checkov:skip=CKV_GCP_62:Only Cloud Build and the deployer write here; Admin Activity audit logs cover it.
  depends_on = [google_project_service.api]
}

# build/functions/<name>.zip from scripts/package.py, uploaded under its content hash: a
# function redeploys only when its bytes change, and an old object is a ready rollback target.
resource "google_storage_bucket_object" "source" {
  for_each = local.functions

  bucket       = google_storage_bucket.sources.name
  name         = "functions/${each.key}/${filesha256("${path.module}/${var.source_zip_dir}/${each.key}.zip")}.zip"
  source       = "${path.module}/${var.source_zip_dir}/${each.key}.zip"
  content_type = "application/zip"
}

# --- Cloud CDN for media playback and downloads ------------------------------------------------
# The media bucket behind a backend bucket on var.media_domain. Playback and resource downloads
# are Cloud CDN signed URLs of https://<media_domain>/<object> (shared/adapters/cdn.py; the
# learning function mounts the keys as MEDIA_CDN_SIGNING_KEYS and signs with the one
# MEDIA_CDN_KEY_NAME names). The keys are added to this backend bucket with gcloud
# (docs/DEPLOY.md), so that their values never enter Terraform state. The bucket stays private: besides the functions, only Cloud CDN's
# fill account reads it (cdn_fill_reads_media), and Cloud CDN fetches as that account only for
# a request whose signature it has checked; a bad or expired signature is answered 403 at the
# edge, and an unsigned request reaches the bucket anonymously and is refused there (the smoke
# test in docs/DEPLOY.md checks both answers).

resource "google_compute_backend_bucket" "media_cdn" {
  name        = "media-cdn"
  bucket_name = google_storage_bucket.data["media"].name
  enable_cdn  = true
  # HSTS and the other security headers (terraform/locals.tf, loadbalancer.tf)
  custom_response_headers = local.security_response_headers

  # signed_url_cache_max_age_sec: a response to a signed request is cached as public for this
  # long (the private bucket answers "private"); each client still needs a valid signature.
  cdn_policy {
    cache_mode                   = "CACHE_ALL_STATIC"
    default_ttl                  = 3600
    max_ttl                      = 86400
    client_ttl                   = 3600
    signed_url_cache_max_age_sec = 3600
    serve_while_stale            = 86400
  }
}

resource "google_storage_bucket_iam_member" "cdn_fill_reads_media" {
  count = var.first_apply ? 0 : 1

  bucket = google_storage_bucket.data["media"].name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:service-${data.google_project.this.number}@cloud-cdn-fill.iam.gserviceaccount.com"
}
