import BoardsService
import ServiceKit

await WorkerServiceMain.run(BoardsService.definition)
