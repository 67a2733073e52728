import NotificationsService
import ServiceKit

await WorkerServiceMain.run(NotificationsService.definition)
