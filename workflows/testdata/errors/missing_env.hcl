vars {
  crm = env("HOOKFLOW_GOLDEN_UNSET_CRM_URL")
}
