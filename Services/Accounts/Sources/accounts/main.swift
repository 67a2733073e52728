import AccountsService
import Foundation
import ServiceKit

// `accounts create-admin …` and `accounts verify-audit` are operator commands; no argument serves.
if let status = await AccountsCommands.run(CommandLine.arguments) {
    exit(status)
}
let settings = ProcessSettings.load("accounts") { AccountsSettings.read(&$0) }
guard let settings else { exit(2) }
await WorkerServiceMain.run(AccountsService.definition(settings: settings))
