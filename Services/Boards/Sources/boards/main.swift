import BoardsService
import Foundation
import ServiceKit

exit(await WorkerServiceMain.run(BoardsService.definition))
