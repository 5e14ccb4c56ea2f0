# Firestore (native mode): the community's realtime projection (shared/realtime). The
# community_projection function writes it from the domain events, the realtime function mints
# the custom tokens clients sign in with (and writes overflowing claims to realtime_grants);
# both are granted access in local.function_access. Clients only read, under firestore.rules.

resource "google_firestore_database" "default" {
  name                              = "(default)"
  location_id                       = var.region
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"

  depends_on = [google_project_service.api]
}

resource "google_firebaserules_ruleset" "firestore" {
  project = var.project

  source {
    files {
      name    = "firestore.rules"
      content = file("${path.module}/firestore.rules")
    }
  }

  depends_on = [google_firestore_database.default]
}

resource "google_firebaserules_release" "firestore" {
  name         = "cloud.firestore"
  ruleset_name = "projects/${var.project}/rulesets/${google_firebaserules_ruleset.firestore.name}"
  project      = var.project

  lifecycle {
    replace_triggered_by = [google_firebaserules_ruleset.firestore]
  }
}
