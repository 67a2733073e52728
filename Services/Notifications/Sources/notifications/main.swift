import NotificationsService
import Foundation
import ServiceKit

exit(await WorkerServiceMain.run(NotificationsService.definition))
