import DirectoryService
import Foundation
import ServiceKit

exit(await WorkerServiceMain.run(DirectoryService.definition))
