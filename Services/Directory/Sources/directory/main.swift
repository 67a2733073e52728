import DirectoryService
import Foundation
import Models
import ServiceKit

/// The whole process in one function: top-level code that awaits more than once crashed on exit
/// ("freed pointer was not the last allocation" in the main task, Swift 6.3; seen in accounts),
/// so main.swift only calls this.
func directoryMain() async -> Int32 {
    // `directory explain-search …` is an operator command; no argument serves.
    if let status = await DirectoryCommands.run(CommandLine.arguments) {
        return status
    }
    // Read with the settings every worker has, so that start-up names every problem at once.
    let loaded = ProcessSettings.load("directory") { (reader: inout ConfigReader) in
        (WorkerServiceSettings(service: .directory, reading: &reader), DirectorySettings.read(&reader))
    }
    guard let settings = loaded?.1 else { return 2 }
    return await WorkerServiceMain.run(DirectoryService.definition(settings: settings))
}

exit(await directoryMain())
