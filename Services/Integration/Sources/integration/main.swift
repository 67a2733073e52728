import IntegrationService

await IntegrationMain.run()
