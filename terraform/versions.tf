terraform {
  required_version = ">= 1.11"

  required_providers {
    # 7.x releases from 2026 on: google_sql_user.database_roles (IAM users join platform_app).
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0, < 8.0"
    }
  }

  # Partial configuration: cloudbuild.yaml and docs/DEPLOY.md pass
  #   -backend-config=bucket=<project>-tfstate -backend-config=prefix=<environment>
  backend "gcs" {}
}

provider "google" {
  project = var.project
  region  = var.region

  default_labels = {
    app         = "creator-platform"
    environment = var.environment
    managed-by  = "terraform"
  }
}

data "google_project" "this" {
  project_id = var.project
}
