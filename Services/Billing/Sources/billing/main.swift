import BillingService
import Foundation
import Models
import ServiceKit

// Read with the settings every worker has, so that start-up names every problem at once.
let loaded = ProcessSettings.load("billing") { (reader: inout ConfigReader) in
    (WorkerServiceSettings(service: .billing, reading: &reader), BillingSettings.read(&reader))
}
guard let settings = loaded?.1 else { exit(2) }
exit(await WorkerServiceMain.run(BillingService.definition(settings: settings)))
