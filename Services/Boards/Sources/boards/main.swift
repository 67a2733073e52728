import BoardsService
import Foundation
import Models
import ServiceKit

/// The whole process in one function (see directory's main.swift for why).
func boardsMain() async -> Int32 {
    // Read with the settings every worker has, so that start-up names every problem at once.
    let loaded = ProcessSettings.load("boards") { (reader: inout ConfigReader) in
        (WorkerServiceSettings(service: .boards, reading: &reader), BoardsSettings.read(&reader))
    }
    guard let settings = loaded?.1 else { return 2 }
    return await WorkerServiceMain.run(BoardsService.definition(settings: settings))
}

exit(await boardsMain())
