import BillingService
import ServiceKit

await WorkerServiceMain.run(BillingService.definition)
