# Every workflows/*.yaml, deployed as is. A workflow finds function FOO's URL in the env var
# FN_FOO_URL (sys.get_env) and calls it with an OIDC token of the workflows service account,
# which may invoke exactly the functions some workflow names (iam.tf).

resource "google_workflows_workflow" "workflow" {
  for_each = local.workflows

  name            = each.key
  region          = var.region
  description     = "workflows/${each.value.file}"
  service_account = google_service_account.workflows.id
  call_log_level  = "LOG_ERRORS_ONLY"
  source_contents = file("${path.module}/../workflows/${each.value.file}")

  user_env_vars = {
    for f in each.value.calls : "FN_${upper(f)}_URL" => google_cloudfunctions2_function.function[f].service_config[0].uri
  }

  depends_on = [google_project_service.api]
}
