# Firestore (native mode), provisioned for the planned realtime layer: the backend would project
# presence, notifications and community activity there and clients would subscribe under the
# rules in firestore.rules. Not built yet: no code writes to Firestore, no function is granted
# access (local.function_access firestore = false), and the rules refuse every client.

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
