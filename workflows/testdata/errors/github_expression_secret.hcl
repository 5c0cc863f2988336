workflow "crm" {
  step "http" "push" {
    url     = "https://crm.example.com/api/contacts"
    headers = { Authorization = "Bearer ${{ secrets.CRM_TOKEN }}" }
  }
}
