import Foundation
import Models
import NotificationsService
import ServiceKit

/// The whole process in one function (see directory's main.swift for why).
func notificationsMain() async -> Int32 {
    // Read with the settings every worker has, so that start-up names every problem at once.
    let loaded = ProcessSettings.load("notifications") { (reader: inout ConfigReader) in
        (WorkerServiceSettings(service: .notifications, reading: &reader), NotificationsSettings.read(&reader))
    }
    guard let settings = loaded?.1 else { return 2 }
    return await WorkerServiceMain.run(NotificationsService.definition(settings: settings))
}

exit(await notificationsMain())
