import ChatService
import Foundation
import Models
import ServiceKit

// Read with the settings every worker has, so that start-up names every problem at once.
let loaded = ProcessSettings.load("chat") { (reader: inout ConfigReader) in
    (WorkerServiceSettings(service: .chat, reading: &reader), ChatSettings.read(&reader))
}
guard let settings = loaded?.1 else { exit(2) }
exit(await WorkerServiceMain.run(ChatService.definition(settings: settings)))
