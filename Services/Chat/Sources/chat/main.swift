import ChatService
import ServiceKit

await WorkerServiceMain.run(ChatService.definition)
