// IntegrationService
