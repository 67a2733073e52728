// BillingService
