import Foundation
import SandboxService

exit(await SandboxMain.run())
