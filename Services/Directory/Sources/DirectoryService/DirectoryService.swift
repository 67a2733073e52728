// DirectoryService
