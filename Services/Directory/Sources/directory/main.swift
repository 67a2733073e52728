import DirectoryService
import ServiceKit

await WorkerServiceMain.run(DirectoryService.definition)
