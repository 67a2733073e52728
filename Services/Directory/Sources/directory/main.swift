import DirectoryService
import Foundation
import Models
import ServiceKit

// `directory explain-search …` is an operator command; no argument serves.
if let status = await DirectoryCommands.run(CommandLine.arguments) {
    exit(status)
}
// Read with the settings every worker has, so that start-up names every problem at once.
let loaded = ProcessSettings.load("directory") { (reader: inout ConfigReader) in
    (WorkerServiceSettings(service: .directory, reading: &reader), DirectorySettings.read(&reader))
}
guard let settings = loaded?.1 else { exit(2) }
exit(await WorkerServiceMain.run(DirectoryService.definition(settings: settings)))
