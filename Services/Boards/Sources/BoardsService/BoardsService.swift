// BoardsService
