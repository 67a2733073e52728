import ChatService
import Foundation
import ServiceKit

exit(await WorkerServiceMain.run(ChatService.definition))
