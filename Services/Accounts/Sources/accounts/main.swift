import AccountsService
import ServiceKit

await WorkerServiceMain.run(AccountsService.definition)
