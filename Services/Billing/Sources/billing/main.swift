import BillingService
import Foundation
import ServiceKit

exit(await WorkerServiceMain.run(BillingService.definition))
