output "load_balancer_ip" {
  description = "Point the A records of var.domain and var.media_domain here."
  value       = google_compute_global_address.lb.address
}

output "api_base_url" {
  description = "Public base URL of the API and pages."
  value       = local.public_base_url
}

output "function_urls" {
  description = "Direct (run.app) URL of every function; only OIDC callers and the load balancer reach them."
  value       = { for k, f in google_cloudfunctions2_function.function : k => f.service_config[0].uri }
}

output "function_service_accounts" {
  description = "Service account of every function."
  value       = { for k, sa in google_service_account.function : k => sa.email }
}

output "bucket_names" {
  description = "Bucket name of every resources.yaml bucket key."
  value       = { for k, b in google_storage_bucket.data : k => b.name }
}

output "sql_instance_connection_name" {
  description = "CLOUD_SQL_INSTANCE of the functions and the migrate job."
  value       = google_sql_database_instance.main.connection_name
}

output "migrate_job" {
  description = "Run with: gcloud run jobs execute <this> --region <region> --wait"
  value       = google_cloud_run_v2_job.migrate.name
}

output "tasks_invoker_service_account" {
  description = "OIDC identity that Cloud Tasks uses to call task targets."
  value       = google_service_account.tasks_invoker.email
}

output "db_connections_budget" {
  description = "Sum of max instances x pool size over all functions (+ reserve) vs max_connections."
  value       = { needed = local.db_connections_needed, max_connections = var.db_max_connections }
}
