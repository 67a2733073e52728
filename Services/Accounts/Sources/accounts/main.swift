import AccountsService
import Foundation
import Models
import ServiceKit

/// The whole process in one function: top-level code that awaits more than once crashed on exit
/// ("freed pointer was not the last allocation" in the main task, Swift 6.3), so main.swift only
/// calls this.
func accountsMain() async -> Int32 {
    // `accounts create-admin …` and `accounts verify-audit` are operator commands; no argument serves.
    if let status = await AccountsCommands.run(CommandLine.arguments) {
        return status
    }
    // Read with the settings every worker has, so that start-up names every problem at once.
    let loaded = ProcessSettings.load("accounts") { (reader: inout ConfigReader) in
        (WorkerServiceSettings(service: .accounts, reading: &reader), AccountsSettings.read(&reader))
    }
    guard let settings = loaded?.1 else { return 2 }
    return await WorkerServiceMain.run(AccountsService.definition(settings: settings))
}

exit(await accountsMain())
