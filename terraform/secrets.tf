# The Secret Manager secrets resources.yaml lists. Terraform declares them; their values never
# enter Terraform state: operators add versions with gcloud (docs/DEPLOY.md), and functions
# mount "latest" as env vars of the same name.

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  secret_id = each.value

  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }

  depends_on = [google_project_service.api]
}
