import AccountsService
import Foundation
import Models
import ServiceKit

// `accounts create-admin …` and `accounts verify-audit` are operator commands; no argument serves.
if let status = await AccountsCommands.run(CommandLine.arguments) {
    exit(status)
}
// Read with the settings every worker has, so that start-up names every problem at once.
let loaded = ProcessSettings.load("accounts") { (reader: inout ConfigReader) in
    (WorkerServiceSettings(service: .accounts, reading: &reader), AccountsSettings.read(&reader))
}
guard let settings = loaded?.1 else { exit(2) }
exit(await WorkerServiceMain.run(AccountsService.definition(settings: settings)))
